"""OneRoster 1.1 `statusInfoSet` error bodies."""

from __future__ import annotations


class ApiError(Exception):
    """An error returned to the client as an HTTP status and a statusInfoSet body."""

    def __init__(self, status: int, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor
        self.description = description


def status_info_set(code_minor: str, description: str) -> dict:
    """Build the OneRoster 1.1 error envelope for one failure."""
    return {
        "statusInfoSet": [
            {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_description": description,
                "imsx_CodeMinor": {
                    "imsx_codeMinorField": [
                        {
                            "imsx_codeMinorFieldName": "TargetEndSystem",
                            "imsx_codeMinorFieldValue": code_minor,
                        }
                    ]
                },
            }
        ]
    }
