"""The SQLite results store: certificate records keyed by configuration, test point and budget."""

from certmodel.store.sqlite import ResultStore, StoredRecord, record_key

__all__ = ["ResultStore", "StoredRecord", "record_key"]
