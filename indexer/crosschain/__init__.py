"""The glue between the chains, above both chain packages (which never import each other).

* ``vaults``   - a vault's custody read on Hemi becomes its registration on Bitcoin (with the
  rescan of blocks scanned before it was known, as a durable work item);
* ``handlers`` - what each kind of durable work item does, and the drain that runs them;
* ``pending``  - what a verdict waits for while that work is unfinished;
* ``sync``     - ``manage.py sync``: both chains up to date in order, then every pending item;
* ``tasks``    - the Celery task that drains work (beat-driven, and nudged after commits).
"""
