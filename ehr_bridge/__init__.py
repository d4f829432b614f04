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

Times (``hl7_time``): a timestamp with an offset is taken as given; one without is local time
in the sender's zone: ``WARDLINE_EHR_HL7_FACILITY_TIMEZONES`` by MSH-4, else the zone of the
site of the ward in PV1-3 when ``WARDLINE_SITE_TIMEZONES`` names it, else
``WARDLINE_EHR_WARD_TIMEZONE`` when set, else the wards' ``WARDLINE_TIMEZONE``; stored in UTC.
The hour skipped in spring is refused AR; the hour repeated in autumn takes the occurrence that
keeps the patient's movements in order (the last applied one's time,
``inbound_messages.movement_at``), else the first, and is logged with ids only. The ACK's MSH-7
is local time with its offset.

Acknowledgements: AA applied, or one of the known events the hospital does not use
(``WARDLINE_EHR_HL7_IGNORED_EVENTS``: A05, A14-A16, A25-A29, A31-A33, A38), kept as
``ignored``; AE with ERR when the domain or the database refuses the data (kept as ``error``,
replayable from the admin page through :class:`wardline.domain.adt_feed_port.AdtFeedPort`);
AR when malformed (framing, charset, control characters, structure, a missing or garbled
MSH-9 type or trigger, MSH-9.2 and EVN-1 disagreeing, missing MSH-10/PID-3/PV1-19/PV1-3, a
key longer than it may be: MSH-10 over 199, MSH-3/4 over 63, IPP, authority or visit number
over 64, never cut) or any event not listed. A duplicate (same MSH-3/4 and MSH-10) gets its
first answer again and is never applied twice. A database that cannot serve (connection,
shutdown, not accepting connections, deadlock...) gets no ACK: the sender sends again.
"""
