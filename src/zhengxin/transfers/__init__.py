"""Cross-border transfers (PIPL-38/39, DSL-31, the CAC provisions XB-*, CR-24): a party asks to
send a dataset abroad, the gate works out the route from the data's grade and the volumes
counted cumulatively over the year, the regulator decides what needs deciding, and an approved
export is produced only by the system, once, limited to what was approved, and logged."""
