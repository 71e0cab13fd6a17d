"""Messages and their decisions: compose, submit, approve (four eyes, checklist), reject,
cancel, retract, expire; urgent alerts; segments and channels kept for reuse; the people told."""
