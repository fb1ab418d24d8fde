// Every page: after a refused form, the focus goes where a keyboard or screen-reader user
// needs it (the page is new, its focus would start at the top): the first field the view
// marked as at fault (its description is the refusal), else the refusal itself
// (tabindex="-1"). A file, not inline code: the CSP allows scripts from the site only.
(function () {
  "use strict";
  var target = document.querySelector('main [aria-invalid="true"]') ||
    document.querySelector("main [data-refus]");
  if (target) target.focus();
})();
