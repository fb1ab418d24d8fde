"""The simulated-card fixtures (simulated_card, insert_card, cardsim_env) for this suite."""

from tests.testbed.cardsim.fixtures import (  # noqa: F401  (fixtures and hook, by name)
    cardsim_dir,
    cardsim_env,
    insert_card,
    pytest_runtest_makereport,
    simulated_card,
)
