from tests.fakes.fixtures import *  # noqa: F403 - registers the fake-network fixtures
