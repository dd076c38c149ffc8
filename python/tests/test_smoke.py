import ucrypto
def test_rand():
    with ucrypto.Device("sim") as d:
        assert len(d.rand(128)) == 16
