"""Talking to a PACS: find studies, retrieve them into a local cache, and send the report back.

DIMSE (C-ECHO, C-FIND, C-GET, C-MOVE to medview's own storage SCP, C-STORE) with pynetdicom; DICOMweb (QIDO-RS,
WADO-RS, STOW-RS) with dicomweb-client. No Qt here: the GUI's PACS dock and `medview pacs` call the same
functions. Every value a server sends is hostile until checked (a UID becomes a file name only when it is a UID).
"""
