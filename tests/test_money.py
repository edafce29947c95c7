"""Money shown to people: öre as SEK with spaces between thousands, exact, sign kept."""

from ersattning.money import sek_text


def test_sek_text():
    assert sek_text(12681544167) == "126 815 441.67"
    assert sek_text(-343230000) == "-3 432 300.00"
    assert sek_text(5) == "0.05"
    assert sek_text(-5) == "-0.05"
