"""Move-in (入伙) inspections: the facilities checklist, meter base readings cross-checked with
the smart meters, the key and card handover register, signatures, rectification tickets."""
