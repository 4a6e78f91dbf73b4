# billing_embed_migrations(<target> DIR <migrations dir> NAMESPACE <c++ ns>)
#
# Compiles every <dir>/NNNN_name.sql into the binary as a
# std::vector<billing::db::Migration> named kMigrations in <c++ ns>, so a
# binary always carries exactly the schema it was built for (no runtime path
# to get wrong in a container). The generated header is <target>/migrations.h.
set(_billing_embed_script "${CMAKE_CURRENT_LIST_DIR}/embed_migrations.cmake")

function(billing_embed_migrations target)
  cmake_parse_arguments(ARG "" "DIR;NAMESPACE" "" ${ARGN})
  file(GLOB sql_files CONFIGURE_DEPENDS "${ARG_DIR}/*.sql")
  list(SORT sql_files)
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_gen")
  set(out_cc "${out_dir}/migrations.cc")
  set(out_h "${out_dir}/${target}/migrations.h")
  add_custom_command(
    OUTPUT "${out_cc}" "${out_h}"
    COMMAND ${CMAKE_COMMAND} "-DOUT_CC=${out_cc}" "-DOUT_H=${out_h}"
            "-DNAMESPACE=${ARG_NAMESPACE}" "-DFILES=${sql_files}"
            -P "${_billing_embed_script}"
    DEPENDS ${sql_files} "${_billing_embed_script}"
    COMMENT "Embedding migrations for ${target}"
    VERBATIM)
  add_library(${target} STATIC "${out_cc}")
  target_include_directories(${target} PUBLIC "${out_dir}")
  target_link_libraries(${target} PUBLIC billing_db)
endfunction()
