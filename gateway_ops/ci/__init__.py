"""What CI runs: the summary of result.json files (``summary``) and the pre-event check (``pre_event``)."""
