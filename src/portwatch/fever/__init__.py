"""The fever rule (the clinic's sheet, exactly): observations in, decisions out. Pure."""
