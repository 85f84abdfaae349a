"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def plan_cache_in_a_temporary_folder(tmp_path_factory):
    """The reference's plans go to a folder of the test session, not the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CELLSIM_CACHE_DIR", str(tmp_path_factory.mktemp("plan-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny policy networks: torch's thread pool only adds contention on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def static_plans_of_this_module_only():
    """static-plan's plans are shared per process (`PlanPolicy.shared_as`): each test module
    starts without another module's, so that no module's result depends on which ran first."""
    from cellsim.policies.baselines import PlanPolicy

    PlanPolicy._shared.clear()
    yield
