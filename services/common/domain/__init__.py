"""Pure domain code shared by services: no I/O, no clock, no random ids."""
