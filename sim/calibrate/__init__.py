"""Calibrating the model from CRM data, and checking it on held-out months (back-testing)."""
