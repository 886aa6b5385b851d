"""Operations on the whole installation: backup and restore, demo data.

The top service package: it may use every package below it and none uses it.
backup.py runs a backup or restore; archive.py is the archive's format, database.py the
database snapshot and its replacement, backup_trust.py what makes an archive trusted.
The evidence goes through the evidence store's Storage interface, never its folder.
"""
from caseapp.services.ops.backup import BackupError, create_backup, restore_backup
from caseapp.services.ops.demo import seed_if_empty

__all__ = ["BackupError", "create_backup", "restore_backup", "seed_if_empty"]
