# -DSHUTTLE_SANITIZE=address,undefined: every userspace binary and test built with ASan and
# UBSan, no recovery (the first finding aborts), LeakSanitizer on at exit. A separate build
# tree (build-asan/ in CI); the BPF objects are unchanged (clang -target bpf, not affected).
#
# The plugin links dynamically here: ASan's runtime cannot start a static PIE, so the
# shipped static plugin's -static-pie is dropped at the end of the configure step.
set(SHUTTLE_SANITIZE "" CACHE STRING
    "sanitizers for every userspace target, e.g. address,undefined (empty = none)")

if(SHUTTLE_SANITIZE)
  set(SHUTTLE_SANITIZE_FLAGS
      -fsanitize=${SHUTTLE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${SHUTTLE_SANITIZE_FLAGS})
  add_link_options(-fsanitize=${SHUTTLE_SANITIZE})
  message(STATUS "shuttle: sanitizers ${SHUTTLE_SANITIZE} (the plugin links dynamically)")

  function(shuttle_sanitize_dynamic_plugin)
    if(TARGET shuttle)
      get_target_property(options shuttle LINK_OPTIONS)
      list(REMOVE_ITEM options -static-pie)
      set_property(TARGET shuttle PROPERTY LINK_OPTIONS ${options})
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL shuttle_sanitize_dynamic_plugin)
endif()
