// Enrolment link: /tv/enroll#credential=SECRET fills the form and sends it once. The secret
// rides in the fragment, which browsers never send to a server nor keep in its logs; it is
// wiped from the address bar and the history before the form is sent.
const match = /(?:^#|&)credential=([^&]+)/.exec(window.location.hash);
const form = document.getElementById("enroll-form");
const field = document.getElementById("credential");
if (match && form && field && !document.querySelector(".error")) {
  history.replaceState(null, "", window.location.pathname);
  field.value = decodeURIComponent(match[1]);
  form.submit();
}
