// Beside the schedule (from /tv/nurse/orders): the allergy status, each allergy with its
// criticality and reactions, and the orders not on the schedule: suspended, if needed (with
// what for), to clarify with the prescriber. The server decides; the page only shows. An
// "if needed" order has its "Give now" button and says when it was last given (ward time,
// written by the server), so the nurse decides on a second dose knowing the first.
import { t } from "./wardline.js";

const SHOWN = { suspended: "order suspended", if_needed: "if needed", to_clarify: "to clarify with the prescriber" };

function item(text, kind) {
  const li = document.createElement("li");
  li.textContent = text;
  if (kind) li.dataset.kind = kind;
  return li;
}

export function clearOrders() {
  for (const id of ["allergy-list", "orders-other"]) document.getElementById(id).textContent = "";
  document.getElementById("allergy-status").textContent = "";
  document.getElementById("other-orders").hidden = true;
}

/** ``onGive(order)`` opens the administration form for an "if needed" order. */
export function renderOrders(view, onGive) {
  clearOrders();
  const status = document.getElementById("allergy-status");
  status.dataset.status = view.allergy_status;
  if (view.allergy_status === "not_recorded") {
    status.textContent = t("No allergy recorded: ask the patient and check with the prescriber");
  } else if (view.allergy_status === "no_known_allergy") {
    status.textContent = t("No known allergy (coded in the EHR)");
  }
  const allergies = document.getElementById("allergy-list");
  for (const a of view.allergies) {
    const parts = [a.substance];
    if (a.reactions.length) parts.push(a.reactions.join(", "));
    if (a.criticality === "high") parts.push(t("high criticality"));
    allergies.append(item(parts.join(" · "), a.criticality === "high" ? "high" : undefined));
  }
  const others = view.orders.filter((o) => o.shown_as !== "scheduled");
  const list = document.getElementById("orders-other");
  for (const o of others) {
    const parts = [o.medication, o.dose, o.route, t(SHOWN[o.shown_as])].filter(Boolean);
    if (o.reason) parts.push(o.reason);
    const li = item(parts.join(" · "), o.shown_as);
    li.dataset.order = o.order_id;
    if (o.shown_as === "if_needed" && onGive) {
      const last = document.createElement("span");
      last.className = "last-given";
      last.textContent = o.last_given_local
        ? t("last given at {time} ({minutes} min ago)", { time: o.last_given_local, minutes: o.minutes_since_given })
        : t("if needed, not given in the last 24 h");
      const give = document.createElement("button");
      give.className = "give-prn";
      give.textContent = t("Give now");
      give.addEventListener("click", () => onGive(o));
      li.append(" ", last, " ", give);
    }
    list.append(li);
  }
  document.getElementById("other-orders").hidden = others.length === 0;
}
