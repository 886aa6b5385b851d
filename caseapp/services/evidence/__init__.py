"""Evidence files of a case: invoices, letters, screenshots, stored once by their SHA-256.

- `files`: upload (one or many), list, open, describe, delete; row and stored bytes never
  disagree.
- `storage`: the `Storage` interface and its folder backend (`get_storage` in files picks it).
- `file_types`: what a file is, from its first bytes, and which types are accepted.
- `filenames`: safe display and download names, Content-Disposition, `slug`.

Which files back a POA version, and the bundle of them, belong to the poa package above.
"""
from caseapp.services.evidence.filenames import content_disposition, download_name, slug
from caseapp.services.evidence.files import (
    CATEGORY_LABELS, TYPE_LABELS, AlreadyAttached, clean_fields, get, get_storage, is_previewable,
    list_for_case, max_upload_bytes, open_file, store, upload, upload_many,
)
from caseapp.services.evidence.files import delete as delete_file
from caseapp.services.evidence.files import update as update_file
from caseapp.services.evidence.storage import Storage

__all__ = [
    "AlreadyAttached", "CATEGORY_LABELS", "Storage", "TYPE_LABELS", "clean_fields",
    "content_disposition", "delete_file", "download_name", "get", "get_storage", "is_previewable",
    "list_for_case", "max_upload_bytes", "open_file", "slug", "store", "update_file", "upload",
    "upload_many",
]
