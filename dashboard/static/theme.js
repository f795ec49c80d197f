// Applies the saved colour theme before the page paints (no flash); app.js adds the toggle.
try {
  var saved = localStorage.getItem("theme");
  if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
} catch (e) { /* storage disabled: follow the system */ }
