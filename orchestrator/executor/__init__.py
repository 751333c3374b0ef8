"""The executor: one sortie flown from preflight to recharge, every step recorded."""
