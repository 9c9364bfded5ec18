"""`import certmodel` is cheap and exposes the main API lazily (#13)."""

import subprocess
import sys


def test_import_loads_no_solver_stack():
    code = ("import sys, certmodel; "
            "heavy = [m for m in ('pyomo', 'highspy', 'scipy', 'certmodel.labelcert', "
            "'certmodel.backends') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_public_names():
    import certmodel

    assert isinstance(certmodel.__version__, str) and certmodel.__version__
    from certmodel.kernels import ntk
    from certmodel.labelcert import certify
    from certmodel.threat import ThreatModel

    assert certmodel.certify is certify
    assert certmodel.ntk is ntk
    assert certmodel.ThreatModel is ThreatModel
    assert hasattr(certmodel.datasets, "load")
    assert {"certify", "ntk", "datasets", "ThreatModel", "__version__"} <= set(dir(certmodel))
    assert not hasattr(certmodel, "nonexistent")


def test_certify_from_the_top_level():
    import numpy as np

    import certmodel

    K = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 2.0]])
    recs = certmodel.certify(K, [1, 1, -1], K[:1], 0.1, [1])
    assert recs[0].verdict.value == "not_robust"
