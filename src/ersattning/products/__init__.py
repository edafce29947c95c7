"""ERSMO: turns listings (and, later, contacts) into product rows.

A product row is (clinic_id, month, component, product_code, quantity, persons,
snapshot): what is paid for, how much of it, and the date whose rules and listings it
used. Pricing (`ersattning.pricing`) puts a unit price on each row.
"""

PRODUCT_COLUMNS = ("clinic_id", "month", "component", "product_code", "quantity", "persons", "snapshot")
