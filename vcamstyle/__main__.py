"""``python -m vcamstyle`` runs the command line."""

from vcamstyle.cli import main

main()
