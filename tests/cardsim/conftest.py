"""The simulated-card fixtures (simulated_card, insert_card, cardsim_env) come from
tests/testbed/cardsim/fixtures.py, loaded for every suite by the root conftest."""
