"""What an AMI user may do, as Asterisk 22 decides it (main/manager.c and the modules).

An action is allowed when the user's ``write`` classes share one class with the action's (an
action registered with no class is open to every logged-in user). An Originate whose
application or data is on Asterisk's list (System, Exec, AGI...; DB(), SHELL()... in the
data) also needs ``system``. The classes of the generated account come from the same place as
``manager.conf`` (:data:`telephony.config.files.MANAGER_WRITE`).
"""

from __future__ import annotations

PERMISSION_DENIED = [("Response", "Error"), ("Message", "Permission denied")]
ORIGINATE_FORBIDDEN = [
    ("Response", "Error"),
    ("Message", "Originate Access Forbidden: app or data blacklisted"),
]

# ast_manager_register_xml(name, class...) in Asterisk 22 (the actions the simulator answers
# and those an attacker would try). No entry: no class needed (Login, Ping, QueueStatus...).
ACTION_CLASSES: dict[str, frozenset[str]] = {
    name.lower(): frozenset(classes)
    for name, classes in {
        "Hangup": ("system", "call"),
        "Status": ("system", "call", "reporting"),
        "Setvar": ("call",),
        "Getvar": ("call", "reporting"),
        "GetConfig": ("system", "config"),
        "GetConfigJSON": ("system", "config"),
        "UpdateConfig": ("config",),
        "CreateConfig": ("config",),
        "Redirect": ("call",),
        "Atxfer": ("call",),
        "CancelAtxfer": ("call",),
        "BlindTransfer": ("call",),
        "Originate": ("originate",),
        "Command": ("command",),
        "UserEvent": ("user",),
        "CoreStatus": ("system", "reporting"),
        "Reload": ("config", "system"),
        "CoreShowChannels": ("system", "reporting"),
        "DBGet": ("system", "reporting"),
        "DBGetTree": ("system", "reporting"),
        "DBPut": ("system",),
        "DBDel": ("system",),
        "DBDelTree": ("system",),
        "ShowDialPlan": ("config", "reporting"),
        "ExtensionStateList": ("call", "reporting"),
        "DeviceStateList": ("call", "reporting"),
        "PJSIPShowContacts": ("system",),
        "PJSIPShowEndpoint": ("system",),
        "PJSIPShowEndpoints": ("system",),
        "Park": ("call",),
        "ParkedCalls": ("call",),
        "QueueAdd": ("agent",),
        "QueueRemove": ("agent",),
        "QueuePause": ("agent",),
        "PlayDTMF": ("call",),
        "Bridge": ("call",),
    }.items()
}

# originate_app_permissions[] of main/manager.c: application names matched anywhere in the
# application (any case), function names anywhere in the data (case as written).
_APPS = ("agi", "dbdeltree", "exec", "externalivr", "mixmonitor", "originate", "reload", "system")
_DATA = ("CURL", "DB", "EVAL", "FILE", "ODBC", "REALTIME", "SHELL")


def allowed(action: str, write: frozenset[str]) -> bool:
    needed = ACTION_CLASSES.get(action.lower())
    return not needed or bool(needed & write)


def originate_allowed(application: str, data: str, write: frozenset[str]) -> bool:
    if "system" in write:
        return True
    app = application.lower()
    if any(name in app for name in _APPS):
        return False
    if "queue" in app and data:
        args = data.split(",")
        if len(args) > 5 and args[5].strip():  # Queue's AGI argument needs agi (or system)
            return "agi" in write
    return not any(name in data for name in _DATA)
