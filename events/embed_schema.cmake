# Writes the schema text as a C++ string (cmake -P, IN and OUT set by the caller).
file(READ ${IN} SCHEMA)
file(WRITE ${OUT} "#include <string_view>\nnamespace kase::events {\nstd::string_view schema_text() noexcept {\n  static constexpr char kText[] = R\"kasefbs(${SCHEMA})kasefbs\";\n  return {kText, sizeof(kText) - 1};\n}\n}  // namespace kase::events\n")
