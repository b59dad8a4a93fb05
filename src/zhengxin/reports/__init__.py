"""Credit reports: the versioned report model (RPT-1, RPT-2) and its assembly from the records store."""
