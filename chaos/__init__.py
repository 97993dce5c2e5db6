"""`make chaos`: a long harvest through every fault the fleet is meant to survive."""
