"""The fever rule (the clinic's sheet, exactly): observations in, decisions out. Pure.

- :mod:`~portwatch.fever.settings`: the rule's numbers, the only place of their defaults,
  and the one threshold comparison (§3).
- :mod:`~portwatch.fever.windows`: stream samples into observations (§2), late and
  repeated ones included; the pages and the export use it too.
- :mod:`~portwatch.fever.timeline`: observations in time order, and the episode type.
- :mod:`~portwatch.fever.episodes`: the walk that finds episodes and what it tells (§4-§6).
- :mod:`~portwatch.fever.decisions`: decision ids, times and "late" (§6).
- :mod:`~portwatch.fever.sentences`: what a nurse reads aloud.
- :mod:`~portwatch.fever.rule`: :class:`~portwatch.fever.rule.FeverRule`, readings in (§1).
"""
