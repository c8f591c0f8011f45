"""`schema`: every declared column is in every file, and every value parses as the column's declared type."""

from __future__ import annotations

from civic_kpi.check_kinds._kind import FileKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, Measured


class Schema(FileKind):
    name = "schema"
    position = 80

    def subject(self, spec: CheckSpec) -> str:
        return "columns and types"

    def unit(self, spec: CheckSpec) -> str:
        return "problems"

    def finding(self, spec: CheckSpec, metric: float) -> str:
        return f"{metric:.0f} problem(s)" if metric else "every declared column is present and parses"

    def measure(self, spec: CheckSpec, inputs: Inputs) -> Measured:
        # The runner reads the files: knowing how a declared column maps onto an export is the data layer's job.
        count, examples = inputs.file_problems()
        return Measured(count, examples)


KIND = Schema()
