# Warnings are errors in the project's own code. Generated protobuf code and
# system headers are exempt (they are compiled without these flags or come in
# as -isystem).
function(billing_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2 -Werror)
endfunction()
