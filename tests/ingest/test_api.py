import ingest


def test_all_names_exist():
    missing = [name for name in ingest.__all__ if not hasattr(ingest, name)]
    assert missing == []
    assert len(set(ingest.__all__)) == len(ingest.__all__)


def test_submodule_all_names_exist():
    from ingest import decode, windows

    for mod in (decode, windows):
        assert [n for n in mod.__all__ if not hasattr(mod, n)] == []
