"""The skill-speed study: how fast a skill model trains on 200k transitions and decodes one action, the
first defaults against the current ones (``python -m benchmarks.skills``; see ``README.md`` beside this
file). The measurement is :mod:`.speed`, the command line :mod:`.cli`."""
