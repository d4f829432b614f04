"""The EHR bridge: HL7 v2 ADT in over MLLP, FHIR R4 out to the bed, bedside writes back.

ADT events and what they do (``adt_message``):

=========  ==============================  ===========================================
event      command                         notes
=========  ==============================  ===========================================
A01, A04   Admit                           PV1-3 ward^room^bed, PV1-19 visit number
A06        Admit                           outpatient becomes inpatient (gets a bed)
A02        Transfer                        to PV1-3
A03, A07   Discharge                       A07: inpatient becomes outpatient
A08        UpdatePatient                   identity, and location when given
A11        CancelAdmit
A12        CancelTransfer
A13        CancelDischarge
A21, A22   SetLeave(on_leave=True/False)   leave of absence out / back
A40        MergePatients                   MRG-1 is the merged patient's IPP
=========  ==============================  ===========================================

Identity: the IPP is the PID-3 repetition of type PI (else the first that is not an INS)
with its assigning authority; the INS (OID 1.2.250.1.213.1.4.8) only when PID-32 is VALI.
PV2-22 = Y asks for non-disclosure. The ZBE movement date, else EVN-6, dates the command.
Charset: MSH-18 (8859/1, UNICODE UTF-8, ...), else ``WARDLINE_HL7_DEFAULT_CHARSET``.

Acknowledgements: AA applied (or an ADT event Wardline does not act on, kept as
``ignored``); AE with ERR when the domain refuses (kept as ``error``, replayable from the
admin page through :class:`wardline.domain.adt_feed_port.AdtFeedPort`); AR when malformed
(framing, charset, structure, missing MSH-10/PID-3/PV1-19/PV1-3) or not an ADT message. A
duplicate (same MSH-3/4 and MSH-10) gets its first answer again and is never applied twice.
"""
