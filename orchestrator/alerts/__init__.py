"""Alerts both ways: findings into incidents pushed to the district's alert system (CAP,
webhooks, MQTT, through an outbox), and inbound alerts that send the earliest drone."""
