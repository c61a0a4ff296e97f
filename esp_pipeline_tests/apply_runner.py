"""Run apply_job of the real definitions in this process; the kill test starts it as a child.

Configuration comes from the same environment variables as `dagster dev` uses.
"""

import sys

import dagster as dg

from esp_pipeline.definitions import build_definitions, resources_from_environment


def main() -> int:
    defs = build_definitions(resources_from_environment())
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("apply_job").execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
