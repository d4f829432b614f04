"""Synthetic HL7 v2 ADT messages for tests (IHE PAM France shapes, invented people)."""

from __future__ import annotations

INS_OID = "1.2.250.1.213.1.4.8"


def adt(
    event: str,
    control_id: str,
    *,
    ipp: str = "100001",
    authority: str = "CHRS",
    visit: str = "V100001",
    ward: str = "CARDIO",
    room: str = "101",
    bed: str = "A",
    family: str = "MARTIN",
    given: str = "JEANNE",
    birth: str = "19520314",
    sex: str = "F",
    charset: str | None = "UNICODE UTF-8",
    encoding: str = "utf-8",
    sender: tuple[str, str] = ("PASTEL", "CHRS"),
    ins: str | None = None,
    identity_status: str = "",
    zbe: str | None = None,
    mrg_ipp: str | None = None,
    evn_at: str = "20260301101500",
    non_disclosure: bool = False,
    newline: str = "\r",
) -> bytes:
    pid3 = f"{ipp}^^^{authority}&1.2.250.1.999.1&ISO^PI"
    if ins:
        pid3 += f"~{ins}^^^ASIP-SANTE-INS-NIR&{INS_OID}&ISO^INS"
    msh18 = charset or ""
    msh = (
        f"MSH|^~\\&|{sender[0]}|{sender[1]}|WARDLINE|CHRS|20260301101500||"
        f"ADT^{event}^ADT_{event}|{control_id}|P|2.5|||||FRA|{msh18}|||2.10"
    )
    pid_fields = ["PID", "1", "", pid3, "", f"{family}^{given}^^^^^L", "", birth, sex]
    pid_fields += [""] * (32 - len(pid_fields) + 1)
    pid_fields[32] = identity_status
    segments = [
        msh,
        f"EVN|{event}|20260301101500||||{evn_at}",
        "|".join(pid_fields).rstrip("|"),
    ]
    if mrg_ipp:
        segments.append(f"MRG|{mrg_ipp}^^^{authority}&1.2.250.1.999.1&ISO^PI")
    pv1 = ["PV1", "1", "I", f"{ward}^{room}^{bed}"] + [""] * 15 + [f"{visit}^^^{authority}^VN"]
    segments.append("|".join(pv1))
    if non_disclosure:
        segments.append("PV2" + "|" * 22 + "Y")
    if zbe:
        segments.append(zbe)
    return newline.join(segments).encode(encoding) + newline.encode()
