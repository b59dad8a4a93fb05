"""Credit scores with reasons: features shared by training and serving, an optimal-binning
scorecard, its model card, and reason codes (CM-3: scores are credit information too;
PIPL-24: a person may ask how an automated decision about them was reached)."""
