"""The commands, one module per group. Each builds on core (and validation, publish, storage)
and never imports another command module, so a group can change without touching the rest."""
