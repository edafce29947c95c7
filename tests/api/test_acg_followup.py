"""The ACG follow-up counts the persons the month's ACG capitation paid for (issue 11: one reading
of who earns capitation): a person listed at the clinic but resident in another county earns no
capitation (seed 000), so they are not in the clinic's mean either."""

from __future__ import annotations

from decimal import Decimal

from af_region import MASTER, MONTH, P_OUT, build
from support import typed_tables

from ersattning.api import queries
from ersattning.core import Core
from ersattning.store import store_inputs


def test_the_acg_follow_up_counts_whom_the_acg_line_paid_for(tmp_path):
    engine = build(tmp_path / "acg.duckdb", run=False)
    tables = {name: table.to_pylist() for name, table in MASTER.items()}
    # P_OUT (county 03) lists at A1 with a heavy ACG weight: the line does not pay for them.
    tables["listings"].append({"person_id": P_OUT, "clinic_id": "A1", "valid_from": "2020-01-01"})
    tables["risk"].append({"person_id": P_OUT, "month": "2022-01", "acg_weight": "9.0", "cni": "1.0"})
    store_inputs(engine, typed_tables(**{k: [{c: (str(v) if v is not None and c != "valid_to" else v) for c, v in r.items()}
                                           for r in rows] for k, rows in tables.items()}))
    core = Core(engine)
    core.run([MONTH])
    acg = queries.acg_followup(core, "A1", MONTH)
    # A1 pays for P_ADULT (1.2) and P_OLD (2.5): mean 1.85; the region adds P_CHILD (0.4).
    assert (acg["clinic_mean"], acg["region_mean"], acg["clinic_persons"], acg["region_persons"]) == ("1.8500", "1.3667", 2, 3)
    line = engine.con.con.execute("SELECT basis FROM statement_lines WHERE line_id = ?", [f"A1:{MONTH}:CAP_ACG"]).fetchall()[0][0]
    assert line == Decimal("3.7")  # 1.2 + 2.5: the line and the follow-up count the same persons
