"""Running the day's plan: launches on time, holds and re-checks, re-plans on faults."""
