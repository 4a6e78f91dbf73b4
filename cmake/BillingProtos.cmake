# billing_proto_library(<target> ROOT <dir> PROTOS <files...> GRPC <files...>
#                       [INCLUDES <dirs...>] [DEPS <targets...>])
#
# Runs protoc (and the gRPC plugin for the GRPC files) explicitly, which is the
# least surprising way with Debian's packages, and builds the generated code
# into a static library. Files are given relative to ROOT; PROTOS lists every
# file, GRPC the subset that declares services.
function(billing_proto_library target)
  cmake_parse_arguments(ARG "" "ROOT" "PROTOS;GRPC;INCLUDES;DEPS" ${ARGN})
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  set(include_flags "-I${ARG_ROOT}")
  foreach(dir IN LISTS ARG_INCLUDES)
    list(APPEND include_flags "-I${dir}")
  endforeach()
  set(sources)
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    set(outputs "${out_dir}/${stem}.pb.cc" "${out_dir}/${stem}.pb.h")
    set(plugin_args)
    if(proto IN_LIST ARG_GRPC)
      list(APPEND outputs "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
      set(plugin_args
        "--grpc_out=${out_dir}"
        "--plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
      COMMAND protobuf::protoc ${include_flags} "--cpp_out=${out_dir}" ${plugin_args}
              "${ARG_ROOT}/${proto}"
      DEPENDS "${ARG_ROOT}/${proto}" protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND sources ${outputs})
  endforeach()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC "${out_dir}")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${ARG_DEPS})
endfunction()
