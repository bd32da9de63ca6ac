"""Break-the-glass (F28): time-limited emergency access to one patient, with a reason,
alerts to the patient's care team and the privacy office, and a privacy officer's review."""
