# add_ofx_plugin(): build an OpenFX plug-in binary straight into its bundle.
#
#   add_ofx_plugin(<target>
#     BUNDLE_NAME <Name>            -> <OUTPUT_DIR>/<Name>.ofx.bundle/Contents/<arch>/<Name>.ofx
#     OUTPUT_DIR <dir>
#     IDENTIFIER <reverse.domain.id>
#     VERSION <x.y.z>
#     INFO_PLIST <template>         configured into Contents/Info.plist (@OFX_BUNDLE_NAME@, @OFX_IDENTIFIER@, ...)
#     SOURCES <files...>
#     RESOURCES <files...>)         copied into Contents/Resources at build time
#
# The binary is a MODULE library named <Name>.ofx (no "lib" prefix) with hidden visibility: only the symbols the
# sources mark visible (OfxGetPlugin, OfxGetNumberOfPlugins) are exported. Sets OFX_BUNDLE_DIR and
# OFX_BINARY_DIR (Contents/<arch>) on the target.
#
#   add_ofx_bundle_module(<target> PLUGIN <plugin target> FILE_NAME <name.so> SOURCES <files...>)
#
# A MODULE library the plug-in dlopens itself, built next to the plug-in binary (Contents/<arch>/<name.so>), with
# hidden visibility. Hosts only load *.ofx files from that folder, so it is loaded only when the plug-in asks.
include_guard(GLOBAL)

function(ofx_architecture_dir out_var)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(${out_var} "Linux-x86-64" PARENT_SCOPE)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(i.86|x86)$")
    set(${out_var} "Linux-x86" PARENT_SCOPE)
  else()
    set(${out_var} "Linux-${CMAKE_SYSTEM_PROCESSOR}" PARENT_SCOPE)
  endif()
endfunction()

function(add_ofx_plugin target)
  cmake_parse_arguments(ARG "" "BUNDLE_NAME;OUTPUT_DIR;IDENTIFIER;VERSION;INFO_PLIST" "SOURCES;RESOURCES" ${ARGN})
  foreach(required BUNDLE_NAME OUTPUT_DIR IDENTIFIER VERSION INFO_PLIST SOURCES)
    if(NOT ARG_${required})
      message(FATAL_ERROR "add_ofx_plugin(${target}): ${required} is required")
    endif()
  endforeach()

  ofx_architecture_dir(arch_dir)
  set(bundle "${ARG_OUTPUT_DIR}/${ARG_BUNDLE_NAME}.ofx.bundle")
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".ofx"
    OUTPUT_NAME "${ARG_BUNDLE_NAME}"
    # $<0:> keeps multi-config generators from appending a per-configuration folder inside the bundle
    LIBRARY_OUTPUT_DIRECTORY "${bundle}/Contents/${arch_dir}$<0:>"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    OFX_BUNDLE_DIR "${bundle}"
    OFX_BINARY_DIR "${bundle}/Contents/${arch_dir}")
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    # An unresolved symbol must fail the build, not the host's dlopen.
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()

  set(OFX_BUNDLE_NAME "${ARG_BUNDLE_NAME}")
  set(OFX_IDENTIFIER "${ARG_IDENTIFIER}")
  set(OFX_VERSION "${ARG_VERSION}")
  configure_file("${ARG_INFO_PLIST}" "${bundle}/Contents/Info.plist" @ONLY)

  foreach(resource IN LISTS ARG_RESOURCES)
    get_filename_component(name "${resource}" NAME)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${bundle}/Contents/Resources"
      COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${resource}" "${bundle}/Contents/Resources/${name}"
      VERBATIM)
  endforeach()
endfunction()

function(add_ofx_bundle_module target)
  cmake_parse_arguments(ARG "" "PLUGIN;FILE_NAME" "SOURCES" ${ARGN})
  foreach(required PLUGIN FILE_NAME SOURCES)
    if(NOT ARG_${required})
      message(FATAL_ERROR "add_ofx_bundle_module(${target}): ${required} is required")
    endif()
  endforeach()
  get_target_property(binary_dir ${ARG_PLUGIN} OFX_BINARY_DIR)
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ""
    OUTPUT_NAME "${ARG_FILE_NAME}"
    LIBRARY_OUTPUT_DIRECTORY "${binary_dir}$<0:>"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  add_dependencies(${ARG_PLUGIN} ${target})  # building the plug-in builds a complete bundle
endfunction()
