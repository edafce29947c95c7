"""The PDF månadsbesked of one clinic's month (fpdf2): a one-page summary (totals by group and by
component) followed by the statement's lines, in Swedish, amounts exact from öre."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fpdf import FPDF
from fpdf.fonts import FontFace

from ersattning.export.data import ExportError, MonthData
from ersattning.statements import GROUPS

GROUP_LABELS = {"fixed": "Fast ersättning", "variable": "Rörlig ersättning", "goal": "Målrelaterad ersättning",
                "adjustment": "Justeringar"}
# The PDF's built-in fonts are Latin-1 (they hold å, ä, ö): the few typographic signs beyond it
# are written as their plain equivalents rather than dropped.
_PLAIN = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2264": "<=", "\u2265": ">=", "\u2026": "...",
                        "\u202f": " ", "\u2192": "->", "\u00f7": "/", "\u201c": '"', "\u201d": '"', "\u2019": "'"})


def _text(value) -> str:
    return str(value if value is not None else "").translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def kronor(ore: int | None) -> str:
    """Öre as Swedish kronor for the document: "1 234 567,89 kr" (integer arithmetic, exact)."""
    if ore is None:
        return ""
    whole, frac = divmod(abs(int(ore)), 100)
    return f"{'-' if ore < 0 else ''}{whole:,}".replace(",", "\u00a0") + f",{frac:02d}\u00a0kr"


def quantity(value) -> str:
    """A quantity with at most two decimals and a decimal comma; whole counts without decimals."""
    if value is None:
        return ""
    # Half away from zero, as the web app's numbers (api/format.py), not Python's half to even.
    text = f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}".replace(",", "\u00a0").replace(".", ",")
    return text[:-3] if text.endswith(",00") else text


class _Document(FPDF):
    def __init__(self, heading: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.heading = heading
        self.set_auto_page_break(auto=True, margin=15)
        self.alias_nb_pages()

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, _text(f"{self.heading} · sida {self.page_no()} av {{nb}}"), align="R")


def month_statement_pdf(data: MonthData, clinic_id: str, labels: dict[str, str], groups: dict[str, str]) -> bytes:
    """The månadsbesked of `clinic_id` in `data` (its lines and statement) as PDF bytes."""
    statement = next((s for s in data.statements.to_pylist() if s["clinic_id"] == clinic_id), None)
    if statement is None:
        raise ExportError(f"clinic {clinic_id} has no statement for {data.month}")
    lines = [line for line in data.lines.to_pylist() if line["clinic_id"] == clinic_id]
    info = data.clinics.get(clinic_id, {})
    name = info.get("name") or clinic_id
    doc = _Document(f"Månadsbesked {clinic_id} {data.month}")
    doc.set_title(_text(f"Månadsbesked {name} {data.month}"))
    doc.set_author("Region Stockholm")
    doc.set_lang("sv")
    doc.add_page()
    doc.set_font("Helvetica", style="B", size=16)
    doc.cell(0, 9, _text(f"Månadsbesked {data.month}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=11)
    doc.cell(0, 6, _text(f"{name} ({clinic_id})"), new_x="LMARGIN", new_y="NEXT")
    if info.get("org_number"):
        doc.cell(0, 6, _text(f"Organisationsnummer {info['org_number']}"), new_x="LMARGIN", new_y="NEXT")
    if data.is_draft:
        doc.set_font("Helvetica", style="B", size=11)
        doc.cell(0, 6, _text("UTKAST: månaden är inte fastställd och kan ändras"), new_x="LMARGIN", new_y="NEXT")
    else:
        when = data.issued_at.date().isoformat() if data.issued_at else ""
        doc.cell(0, 6, _text(f"Fastställd {when}"), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)

    head = FontFace(emphasis="BOLD", fill_color=(233, 238, 244))
    doc.set_font("Helvetica", size=10)
    with doc.table(col_widths=(110, 60), text_align=("LEFT", "RIGHT"), headings_style=head, width=170,
                   align="LEFT") as table:
        table.row(["Del", "Belopp"])
        for g in GROUPS:
            table.row([_text(GROUP_LABELS.get(g, g)), _text(kronor(statement[f"{g}_ore"]))])
        table.row([_text("Totalt att betala"), _text(kronor(statement["total_ore"]))],
                  style=FontFace(emphasis="BOLD"))
    doc.ln(4)

    by_component: dict[str, int] = {}
    for line in lines:
        by_component[line["component"]] = by_component.get(line["component"], 0) + line["amount_ore"]
    doc.set_font("Helvetica", style="B", size=12)
    doc.cell(0, 7, _text("Per komponent"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=9)
    with doc.table(col_widths=(95, 40, 35), text_align=("LEFT", "LEFT", "RIGHT"), headings_style=head, width=170,
                   align="LEFT") as table:
        table.row(["Komponent", "Grupp", "Belopp"])
        for component, amount in sorted(by_component.items(), key=lambda kv: -abs(kv[1])):
            table.row([_text(labels.get(component, component)),
                       _text(GROUP_LABELS.get(groups.get(component, ""), "")), _text(kronor(amount))])

    doc.add_page()
    doc.set_font("Helvetica", style="B", size=12)
    doc.cell(0, 7, _text(f"Rader ({len(lines)})"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=8)
    with doc.table(col_widths=(48, 54, 18, 26, 28), text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
                   headings_style=head, width=174, align="LEFT", repeat_headings=1) as table:
        table.row(["Komponent", "Produktkod", "Antal", "À-pris", "Belopp"])
        for line in lines:
            table.row([_text(labels.get(line["component"], line["component"])), _text(line["product_code"]),
                       _text(quantity(line["quantity"])), _text(kronor(line["unit_price_ore"])),
                       _text(kronor(line["amount_ore"]))])
        table.row(["Totalt", "", "", "", _text(kronor(sum(line["amount_ore"] for line in lines)))],
                  style=FontFace(emphasis="BOLD"))
    return bytes(doc.output())
