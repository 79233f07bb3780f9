# -DSHUTTLE_SANITIZE=address,undefined: every userspace binary and test built with ASan and
# UBSan, no recovery (the first finding aborts), LeakSanitizer on at exit. A separate build
# tree (build-asan/, tools/test-asan.sh); the BPF objects are unchanged (clang -target bpf).
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

  # The sanitizers' default options, compiled into every executable (sanitizer_options.c):
  # exit code 23, leaks detected (suppressions: tools/sanitizer/lsan.supp, third-party code
  # only), every report in SHUTTLE_SANITIZER_LOG_DIR, which tools/test-asan.sh empties
  # before the tests and fails on afterwards.
  set(SHUTTLE_SANITIZER_LOG_DIR ${CMAKE_BINARY_DIR}/sanitizer-reports)
  file(MAKE_DIRECTORY ${SHUTTLE_SANITIZER_LOG_DIR})
  set(options_source ${CMAKE_SOURCE_DIR}/cmake/sanitizer_options.c)
  function(shuttle_sanitize_executables dir options_source)
    set_source_files_properties(${options_source} DIRECTORY ${dir} PROPERTIES
      SKIP_PRECOMPILE_HEADERS ON
      COMPILE_DEFINITIONS "SHUTTLE_SANITIZER_LOG_DIR=\"${SHUTTLE_SANITIZER_LOG_DIR}\";SHUTTLE_LSAN_SUPPRESSIONS=\"${CMAKE_SOURCE_DIR}/tools/sanitizer/lsan.supp\"")
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target ${targets})
      get_target_property(type ${target} TYPE)
      if(type STREQUAL "EXECUTABLE")
        target_sources(${target} PRIVATE ${options_source})
      endif()
    endforeach()
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    foreach(subdir ${subdirs})
      shuttle_sanitize_executables(${subdir} ${options_source})
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
                 CALL shuttle_sanitize_executables ${CMAKE_SOURCE_DIR} ${options_source})
endif()
