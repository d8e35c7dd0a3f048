"""``portwatch setup``: the guided first run (issue 19).

A person answers the few things only they know (whose port, since when, which clinic, who
is told); setup makes what nobody should type (the page's token, a push topic nobody can
guess, a one-time phone link), writes the settings and the credentials with the owners
and modes the service expects, pins the thermometer, checks with ``doctor`` and starts the
service. Modules: :mod:`.tomledit` (changing a settings file in place), :mod:`.answers`
(what is asked and how answers are read), :mod:`.files` (writing under a root),
:mod:`.network` (the Pi's address on the home network), :mod:`.qr` (the phone link as a QR
code), :mod:`.flow` (the questions in order, asked or taken from flags).
"""
